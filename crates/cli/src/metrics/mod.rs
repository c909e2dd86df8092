//! On-demand metrics (`metrics`): the agents run the pipeline in process with a Prometheus
//! encoder ([`flp`]); the CLI scrapes each agent through the API server's pod proxy (no
//! port-forward, no Prometheus needed: [`scrape`]), reads the expositions ([`exposition`]) and
//! turns the counters into rates over time ([`history`]) for the terminal charts
//! ([`crate::tui::metrics`]).

pub mod exposition;
pub mod flp;
pub mod history;
pub mod scrape;
