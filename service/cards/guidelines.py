"""Guidelines cited by cards (clinical-rules §0, links per §7.5). Keys are used in CardDraft.guidelines."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Guideline:
    key: str
    label: str       # link label
    url: str
    citation: str    # the "**Guideline**:" line text


GUIDELINES: dict[str, Guideline] = {g.key: g for g in (
    Guideline("ng158", "NICE NG158: venous thromboembolic diseases, diagnosis and management",
              "https://www.nice.org.uk/guidance/ng158",
              "NICE NG158, Venous thromboembolic diseases: diagnosis, management and thrombophilia testing (2020, updated 2023)"),
    Guideline("rcog", "RCOG Green-top Guideline 37b: thromboembolic disease in pregnancy and the puerperium",
              "https://www.rcog.org.uk/guidance/browse-all-guidance/green-top-guidelines/",
              "RCOG Green-top Guideline 37b, Thromboembolic disease in pregnancy and the puerperium: acute management (2015)"),
    Guideline("esc", "ESC 2019 guidelines: acute pulmonary embolism",
              "https://www.escardio.org/Guidelines",
              "ESC 2019 Guidelines for the diagnosis and management of acute pulmonary embolism"),
    Guideline("perc", "Kline PERC rule (via NICE NG158)",
              "https://www.nice.org.uk/guidance/ng158",
              "Kline, pulmonary embolism rule-out criteria (2004/2008), as gated by NICE NG158"),
    Guideline("acr", "ACR Appropriateness Criteria",
              "https://acsearch.acr.org/list",
              "ACR Appropriateness Criteria"),
    Guideline("ottawa", "Ottawa knee rule (Stiell) and ACR AC Acute Trauma to the Knee",
              "https://acsearch.acr.org/list",
              "Stiell, Ottawa knee rule (1995/1996); Seaberg, Pittsburgh knee rule (1994/1998); ACR AC Acute Trauma to the Knee (2019)"),
    Guideline("bsr", "BSR guideline: management of the hot swollen joint in adults",
              "https://www.rheumatology.org.uk/practice-quality/guidelines",
              "BSR/BHPR 2006, management of the hot swollen joint in adults (Coakley et al.)"),
    Guideline("ng219", "NICE NG219: gout",
              "https://www.nice.org.uk/guidance/ng219",
              "NICE NG219, Gout: diagnosis and management (2022)"),
    Guideline("ng100", "NICE NG100: rheumatoid arthritis in adults",
              "https://www.nice.org.uk/guidance/ng100",
              "NICE NG100, Rheumatoid arthritis in adults: management (2018)"),
    Guideline("ng12", "NICE NG12: suspected cancer, recognition and referral",
              "https://www.nice.org.uk/guidance/ng12",
              "NICE NG12, Suspected cancer: recognition and referral (sarcoma)"),
    Guideline("ng51", "NICE NG51: suspected sepsis, recognition, diagnosis and early management",
              "https://www.nice.org.uk/guidance/ng51",
              "NICE NG51, Suspected sepsis: recognition, diagnosis and early management (2016, updated 2024)"),
    Guideline("nsaid", "NICE CKS: NSAIDs, prescribing issues",
              "https://cks.nice.org.uk/topics/nsaids-prescribing-issues/",
              "NICE CKS, NSAIDs: prescribing issues; MHRA Drug Safety Update on NSAIDs from 20 weeks of pregnancy"),
    Guideline("kocher", "Kocher criteria with Caird CRP substitution",
              "https://www.rheumatology.org.uk/practice-quality/guidelines",
              "Kocher 1999/2004 criteria with Caird 2006 CRP substitution (derived for the hip; extrapolated to the knee)"),
)}
