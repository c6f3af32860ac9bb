//! The signer function deployed by presign-stack.
//!
//! This crate is a placeholder in the workspace until the signer issue fills it: it will hold the
//! request validation and signing as a library, and a `bootstrap` binary on `lambda_http`.
