//! Flow filter query language (placeholder until the parser lands).
