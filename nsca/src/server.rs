//! An async NSCA receiver for tests, the demo and fuzzing, with switchable faults.
