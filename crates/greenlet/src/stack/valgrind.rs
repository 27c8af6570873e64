//! Tells Valgrind where greenlet stacks are, so memcheck follows a switch of the stack pointer
//! between them instead of taking it for a huge stack frame.
//!
//! A Valgrind client request is a magic sequence of rotates that is a no-op on real hardware
//! and that Valgrind's JIT recognises; the request block's address travels in a fixed register
//! and the answer comes back in another (the protocol of `valgrind.h`).

/// `VG_USERREQ__STACK_REGISTER` and `VG_USERREQ__STACK_DEREGISTER` from `valgrind.h`.
const STACK_REGISTER: usize = 0x1501;
const STACK_DEREGISTER: usize = 0x1502;

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn request(default: usize, args: &[usize; 6]) -> usize {
    let result;
    // SAFETY: the four `rol`s turn `rdi` full circle (3 + 13 + 61 + 51 = 128 bits) and
    // `xchg rbx, rbx` is a no-op, so outside Valgrind nothing changes. Under Valgrind:
    //   rax: in, address of the request block (code, then up to five arguments);
    //   rdx: in, the default answer; out, Valgrind's answer (unchanged natively).
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            inout("rdx") default => result,
            in("rax") args.as_ptr(),
            options(nostack, preserves_flags),
        );
    }
    result
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn request(default: usize, args: &[usize; 6]) -> usize {
    let result;
    // SAFETY: the four `ror`s turn x12 full circle and `orr x10, x10, x10` is a no-op.
    //   x4: in, address of the request block; x3: in, default answer; out, Valgrind's answer.
    unsafe {
        core::arch::asm!(
            "ror x12, x12, #3",
            "ror x12, x12, #13",
            "ror x12, x12, #51",
            "ror x12, x12, #61",
            "orr x10, x10, x10",
            inout("x3") default => result,
            in("x4") args.as_ptr(),
            options(nostack, preserves_flags),
        );
    }
    result
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn request(default: usize, _args: &[usize; 6]) -> usize {
    default
}

/// Registers the stack `[low, high)`; returns Valgrind's id for it (0 when not under Valgrind).
pub(crate) fn register(low: usize, high: usize) -> usize {
    request(0, &[STACK_REGISTER, low, high, 0, 0, 0])
}

/// Forgets a stack registered with [`register`].
pub(crate) fn deregister(id: usize) {
    request(0, &[STACK_DEREGISTER, id, 0, 0, 0, 0]);
}
