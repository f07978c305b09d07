//! The server's integration tests, one binary (one link of the whole server): each module drives
//! a real server over HTTP(S) through the harness in `common` (`start`, signed-in clients,
//! submissions from the simulator).

mod balancer;
mod common;
mod compliance;
mod http;
mod policy;
mod records;
mod refusals;
mod review;
mod security;
mod sender;
mod team_security;
