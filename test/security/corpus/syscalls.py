import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
for name, nr, args in [("io_uring_setup", 425, (8, ctypes.create_string_buffer(128))), ("keyctl", 250, (0, 0, 0, 0, 0)),
                       ("unshare", 272, (0x10020000,)), ("mount", 165, (b"none", b"/usr", b"tmpfs", 0, 0))]:
    r = libc.syscall(nr, *args)
    print(f"{name}: {os.strerror(ctypes.get_errno()) if r < 0 else 'allowed'}")
