pub mod demo;
pub mod epg;
pub mod probe;
pub mod run;
pub mod scan;
pub mod source;
pub mod streaming;
pub mod tuners;
