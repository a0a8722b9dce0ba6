pub mod demo;
pub mod probe;
pub mod run;
