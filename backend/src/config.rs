//! The service's configuration lives in the `config` crate, shared with the `generator`
//! binary: sections of typed values read from the `APP_CONFIG` file and `APP_*` variables
//! (see that crate). Re-exported here so `backend::config::Config` keeps working.

pub use config::*;
