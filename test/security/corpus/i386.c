// getpid through the 32-bit syscall ABI (int 0x80): another ABI, another syscall table.
int main (void) { int r; __asm__ volatile ("int $0x80" : "=a"(r) : "a"(20)); return r > 0 ? 0 : 1; }
