"""Order advice for the order hooks (clinical-rules §6.16; contract §6)."""
