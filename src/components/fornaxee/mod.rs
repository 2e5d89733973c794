//! Fornaxee, the data factory that runs as a Flink client: the second component. Its bundle
//! format ([`bundle`]), etc/ files ([`render`]), facts probe ([`probe`]), plan rules
//! ([`plan`]) and health check ([`health`]) live here.

pub mod bundle;
pub mod health;
pub mod plan;
pub mod probe;
pub mod render;

/// The component's name in plans and output.
pub const NAME: &str = "Fornaxee";

/// The service name in plans and pid files.
pub const SERVICE: &str = "fornaxee";
