//! Zion test harness.
