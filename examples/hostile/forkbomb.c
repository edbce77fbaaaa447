/*
 * HOSTILE: a fork bomb. Every process forks forever, so the process count
 * explodes. A sandbox must cap processes (e.g. RLIMIT_NPROC / pids cgroup)
 * and kill the whole group at the time limit.
 * NEVER run this outside a sandbox.
 */
#include <unistd.h>

int main(void) {
    for (;;) fork();
}
