"""Minute data: read and check vendor files, the data doctor, 5-minute bars, the synthetic default,
content fingerprints of sessions."""

from lab.data.bars import regular_session_bars, resample_bars, session_minutes
from lab.data.doctor import DataReport, diagnose
from lab.data.fingerprints import SessionPrint, match_sessions, session_fingerprints
from lab.data.readers import MinuteFile, read_minutes, write_firstrate
from lab.data.synth import generate_minutes

__all__ = ["DataReport", "MinuteFile", "SessionPrint", "diagnose", "generate_minutes", "match_sessions",
           "read_minutes", "regular_session_bars", "resample_bars", "session_fingerprints", "session_minutes",
           "write_firstrate"]
