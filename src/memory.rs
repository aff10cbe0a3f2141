//! The agent's memory footprint on glibc: allocator settings for a long-running process that
//! sees bursts (a backlog of thousands of results) and then idles for hours, and giving freed
//! memory back after a burst.
//!
//! Owns: the two calls into glibc's malloc. No-ops elsewhere (musl, other systems).

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
