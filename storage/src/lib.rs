//! Zion's storage: the on-disk layout of shared and private storage and every
//! move into it.
