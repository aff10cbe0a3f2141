#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nsca::fuzzing::stdin_records(data));
