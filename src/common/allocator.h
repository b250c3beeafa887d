// Process-wide malloc settings for a workload of many short-lived multi-megabyte buffers
// (ciphertexts at N = 16384 are 2-3 MB each).
#pragma once

namespace leukocrypt {

// glibc serves blocks above its mmap threshold with a fresh mmap and returns them with munmap,
// so every temporary ciphertext of a key switch costs page faults and the kernel zeroing its
// (huge) pages again: about a fifth of the CPU time of a latency-layout job (perf, cnmc-x2, one
// cell). This raises the threshold to its maximum (32 MiB) and keeps freed memory for reuse
// instead of trimming it: peak memory about the same (+0.8 % on a 100-cell job), resident
// memory stays near the peak.
// Buffers of 256 KiB and more (AlignedBuffer) are also recycled per thread by exact size
// (aligned_buffer.h, detail::large_alloc), so a shape allocated over and over reuses its pages.
// Called once at the start of main(); a no-op where the C library has no mallopt, or with
// LEUKOCRYPT_MALLOC=default in the environment (to measure against the defaults).
void configure_allocator();

}  // namespace leukocrypt
