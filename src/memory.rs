//! The agent's memory footprint on glibc: allocator settings for a long-running process that
//! sees bursts (a backlog of thousands of results) and then idles for hours, and giving freed
//! memory back after a burst.
//!
//! Owns: the two calls into glibc's malloc (no-ops elsewhere: musl, other systems), and
//! giving the spare room of emptied maps back.

/// Tune glibc's malloc for a daemon: a fixed mmap threshold (128 KiB: big temporary buffers,
/// such as a spool listing, come from mmap and go back to the system when freed, instead of
/// the dynamic threshold moving them into the heap), the same trim threshold, and at most two
/// arenas (the agent has few threads; each arena keeps its own free memory). Call once, early.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt(3) takes two integers and only changes glibc's allocator parameters
    // under its own lock; it has no memory-safety preconditions and may be called at any time
    // (here before the runtime starts any thread).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Give freed heap back to the system after a burst (glibc keeps it otherwise, and an idle
/// agent's RSS stays at its peak).
pub fn release() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim(3) only walks glibc's own arenas under their locks; it takes a plain
    // integer, has no preconditions and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Give a map's spare capacity back once it holds far fewer entries than it has room for (a
/// burst of 10,000 files leaves a table of 16,384 slots behind otherwise, megabytes that an
/// idle agent keeps forever). Shrinks to twice the entries when under a quarter full, so the
/// cost stays amortised constant per removal.
pub fn shrink_idle<K: Eq + std::hash::Hash, V>(map: &mut std::collections::HashMap<K, V>) {
    let cap = map.capacity();
    if cap > 64 && map.len() < cap / 4 {
        map.shrink_to(map.len() * 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_emptied_after_a_burst_gives_its_room_back() {
        let mut m: std::collections::HashMap<u32, [u8; 64]> =
            (0..10_000).map(|i| (i, [0; 64])).collect();
        assert!(m.capacity() >= 10_000);
        for i in 0..10_000 {
            m.remove(&i);
            shrink_idle(&mut m);
        }
        assert!(m.capacity() <= 64, "{}", m.capacity());
        // A small map is left alone.
        let mut small: std::collections::HashMap<u32, u32> = (0..50).map(|i| (i, i)).collect();
        small.remove(&1);
        let before = small.capacity();
        shrink_idle(&mut small);
        assert_eq!(small.capacity(), before);
    }
}
