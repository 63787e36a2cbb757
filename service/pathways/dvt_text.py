"""The card text of the adult DVT pathway (clinical-rules §6.3): sentences as named templates, chosen by
the rows and modifiers of :mod:`service.pathways.dvt`."""
from __future__ import annotations

INTERIM_CORE = ("offer interim therapeutic anticoagulation, preferably one that can be continued if DVT is "
                "confirmed (for example apixaban or rivaroxaban; NG158), and get the scan result within 24 h.")
INTERIM_DRAW_FIRST = ("If the scan (or D-dimer) result cannot be obtained within 4 h: draw the D-dimer first, then "
                      + INTERIM_CORE)
INTERIM_WITHOUT_DRAW = "If the scan result cannot be obtained within 4 h: " + INTERIM_CORE
CONFIRM_STILL_TAKING = "Confirm whether the patient is still taking an anticoagulant first. "
SCAN_NEGATIVE_THEN_DDIMER = "Scan negative: D-dimer, then follow NG158."
SCAN_NEGATIVE_THEN_PREGNANCY_TEST = ("Scan negative: pregnancy test, then the D-dimer once pregnancy is excluded "
                                     "(DDIMER-PREGNANCY-TEST-FIRST), then follow NG158.")
SCAN_NEGATIVE_NO_DDIMER = ("Scan negative: no D-dimer (not reliable here: {why}); Wells likely or indeterminate: "
                           "repeat proximal scan 6–8 days after the first (L5); Wells unlikely: DVT excluded (U1).")
DDIMER_AFTER_NEGATIVE_SCAN = ("only if the scan is negative (a negative D-dimer does not rule out DVT when Wells is "
                              "likely).")
DDIMER_REPLACED_BY_SCAN = "not used here: a repeat scan replaces it ({why})."
STOP_INTERIM_EXCLUDED = "Stop the interim anticoagulation ({sources}): DVT is excluded."
STOP_INTERIM_REPEAT_DUE = ("Stop the interim anticoagulation ({sources}) (NG158); DVT is not yet excluded: the "
                           "repeat proximal scan 6–8 days after the first decides.")
# the main action of each row, first in Recommendation (the suggestion alone is not enough to read)
MAIN_CONFIRMED = "Start treatment for DVT (NG158) and assess for PE symptoms."
MAIN_KNOWN_RECENT = ("Leg-vein ultrasound if symptoms are new or worse (extension or recurrence); check adherence to "
                     "anticoagulation.")
MAIN_DELAYED_DRAW = ("D-dimer now, drawn before the first anticoagulant dose; proximal leg-vein ultrasound with the "
                     "result within 24 hours.")
MAIN_DELAYED_SCAN = "Proximal leg-vein ultrasound with the result within 24 hours."
MAIN_DDIMER_AFTER_SCAN = ("D-dimer now (NG158 1.1.4): positive or unusable, repeat the proximal scan 6–8 days after "
                          "the first; negative, DVT unlikely.")
MAIN_REPEAT_SCAN = "Repeat the proximal leg-vein scan 6–8 days after the first ({start} to {end})."
MAIN_SCAN_4H = "Proximal leg-vein ultrasound with the result within 4 hours."
MAIN_SCAN_4H_LIKELY = ("Proximal leg-vein ultrasound, result within 4 hours (suggested). Positive: diagnose and treat "
                       "DVT, and assess for PE symptoms.")
SCAN_WITHIN_4H_UNKNOWN = ("Whether a scan result can be had within 4 hours is not recorded (ultrasound-within-4h): "
                          "assumed yes.")
CONSIDER_ALTERNATIVE = ("DVT is unlikely by the NG158 pathway: consider an alternative diagnosis (strain, Baker's cyst, "
                        "OA, cellulitis).")
MAIN_IMAGE_FIRST = "Proximal leg-vein ultrasound: result within 4 hours where possible, 24 hours at the latest."
MAIN_DDIMER_4H = "Quantitative D-dimer with the result within 4 hours."
DDIMER_THEN_SCAN = "D-dimer positive: proximal leg-vein ultrasound within 4 hours. Negative: DVT unlikely."
SCAN_WITHIN_4H = {
    True: "A scan result can be had within 4 hours",
    False: "No scan result within 4 hours (the plan uses the delayed-scan row)",
}


KNEE_IMAGING_REASON = "knee assessment and imaging once DVT is excluded."
STALE_VTE_TEXT = ("stale-condition: {ref} recorded as active since {date}, no recent imaging: treated as previous "
                  "DVT (Wells +1), not as a current diagnosis.")

# -- each row's summary and headline, by rule; formatted with label, score, ddimer, start, end ----------
IMAGE_FIRST_TEXT = ("DVT unlikely ({score}) but D-dimer unreliable here: leg-vein ultrasound",
                    "**D-dimer cannot be used here (NICE NG158): image first.**")
ROW_TEXT = {
    "DVT-CONFIRMED": ("DVT confirmed on ultrasound: start treatment (NG158) and assess for PE symptoms",
                      "**DVT confirmed on ultrasound (NICE NG158).** Start treatment and assess for PE symptoms."),
    "DVT-KNOWN-RECENT": ("Known recent DVT: ultrasound if symptoms are new or worse (extension or recurrence)",
                         "**Known recent DVT (NICE NG158).** Check adherence to anticoagulation."),
    "DVT-LIKELY-US4H": ("{label} ({score}): proximal leg-vein ultrasound with result within 4 hours",
                        "**{label}: two-level {score} (NICE NG158).** Proximal leg-vein ultrasound with the result "
                        "within 4 hours."),
    "DVT-LIKELY-SCAN-DELAYED": ("{label} ({score}), scan not within 4 h: D-dimer now, interim anticoagulation, scan "
                                "within 24 h",
                                "**{label}: two-level {score}; the scan cannot be had within 4 hours (NICE NG158).**"),
    "DVT-REPEAT-US-NEG": ("DVT excluded: repeat leg-vein ultrasound negative ({score})",
                          "**DVT unlikely by the NG158 pathway: the repeat proximal scan is negative.**"),
    "DVT-LIKELY-US-NEG-DDIMER-NEEDED": ("DVT likely ({score}), scan negative: D-dimer now to decide on a repeat scan",
                                        "**Scan negative but DVT likely (NICE NG158 1.1.4):** D-dimer now."),
    "DVT-LIKELY-US-NEG-DDIMER-POS-REPEAT": ("DVT likely ({score}), scan negative, D-dimer {ddimer}: repeat scan in 6–8 "
                                            "days",
                                            "**Scan negative, D-dimer positive or unusable (NICE NG158 1.1.4):** "
                                            "repeat the proximal leg-vein scan 6–8 days after the first ({start} to "
                                            "{end})."),
    "DVT-LIKELY-US-NEG-DDIMER-NEG": ("DVT excluded: scan and D-dimer negative ({score})",
                                     "**DVT unlikely by the NG158 pathway: scan and D-dimer negative.**"),
    "DVT-UNLIKELY-US-NEG": ("DVT excluded: unlikely ({score}) and scan negative",
                            "**DVT unlikely by the NG158 pathway: Wells unlikely and the scan is negative.**"),
    "DVT-ANTICOAGULATED": IMAGE_FIRST_TEXT,
    "DVT-IMAGING-FIRST": IMAGE_FIRST_TEXT,
    "DVT-UNLIKELY-DDIMER": ("DVT unlikely ({score}): D-dimer with result within 4 hours",
                            "**DVT unlikely: two-level {score} (NICE NG158).** Quantitative D-dimer, result within 4 "
                            "hours."),
    "DVT-UNLIKELY-DDIMER-POS-US": ("DVT unlikely ({score}) but D-dimer {ddimer}: proximal leg-vein ultrasound within 4 "
                                   "hours",
                                   "**D-dimer {ddimer} with Wells unlikely (NICE NG158 1.1.6):** proximal leg-vein "
                                   "ultrasound within 4 hours."),
    "DVT-UNLIKELY-DDIMER-NEG": ("DVT excluded: unlikely ({score}) and D-dimer negative",
                                "**DVT unlikely by the NG158 pathway: Wells unlikely and D-dimer negative.**"),
}
