//! Only the bench `postgres_end_to_end`; see it.
