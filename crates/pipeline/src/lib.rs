//! The flowlogs pipeline: ingest -> transform -> extract -> encode -> write. Implementation lands
//! with the pipeline issue; its filter language already lives in the `flowdsl` crate.
