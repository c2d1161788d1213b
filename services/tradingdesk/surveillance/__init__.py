"""Market abuse surveillance: detectors that read the desk's order activity and the market around it
(``core.activity``) and raise alerts, each naming the rule it answers (docs/compliance.md)."""
