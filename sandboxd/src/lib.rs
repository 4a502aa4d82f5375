//! zion-sandboxd.
