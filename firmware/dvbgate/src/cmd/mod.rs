pub mod demo;
pub mod probe;
pub mod run;
pub mod scan;
pub mod tuners;
