//! The per-user local endpoint (being written).
