#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nsca::fuzzing::send_nsca_delimiter(data));
