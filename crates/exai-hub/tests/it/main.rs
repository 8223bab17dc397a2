mod hub;
#[path = "../support/mod.rs"]
mod support;
mod upstream;
