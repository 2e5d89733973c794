//! The one integration test binary: command-line behaviour, downloads, and real-host deploys.

mod cli;
mod conventions;
mod day2;
mod deploy;
mod faults;
mod fetch;
mod fornaxee;
mod fuzz;
mod ha;
mod httpd;
mod java;
mod jobs;
mod kit;
mod modern;
mod ops;
mod planner;
mod supervise;
mod support;
mod testbed;
mod tls;
