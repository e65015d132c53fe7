"""The telephone: a SIP endpoint (PJSIP) that runs the voice pipeline for every call."""
