#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| nagbridge::fuzzing::spool_entry(data));
