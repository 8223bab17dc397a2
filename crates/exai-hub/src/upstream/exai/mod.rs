//! The EXAI daemon upstream (being written).
