//! The run-time choice of vector instructions for the fast paths' element-wise loops.
//!
//! The loops are plain Rust, written so that the compiler vectorises them ([`crate::fast_exp`]
//! instead of the C library's `expf`). A release build targets the baseline of its
//! architecture (SSE2 on x86-64, NEON on aarch64), so on x86-64 the hot loops are compiled a
//! second time with AVX2 and FMA enabled (`#[target_feature]`) and picked at run time where the
//! CPU has both; everywhere else the baseline build runs. Both are the same source, and tests
//! hold them to equal results.

/// Whether this CPU runs AVX2 and FMA (detected once; `false` off x86-64).
#[inline]
pub fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has AVX-512F (detected once; `false` off x86-64).
#[inline]
pub fn avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
