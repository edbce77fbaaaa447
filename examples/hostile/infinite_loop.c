/*
 * HOSTILE: burns CPU forever and prints nothing. The CPU-time limit must
 * stop it (expected status: time_limit).
 */
int main(void) {
    volatile unsigned long n = 0;
    for (;;) n++;
}
