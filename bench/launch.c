/* Starts one function process for the bench: takes the priority and joins the cgroup (CPU
 * quota) it is given, then execs the function, so the function runs under its quota from its
 * first instruction.
 *
 * Why not Python's preexec_fn: that runs in a forked copy of the harness, whose copy-on-write
 * faults and address-space teardown at exec are charged to the child, i.e. to the function's
 * CPU time: ~2 ms of a cold start here, more than our own init's user time. Without a
 * preexec_fn, CPython (3.10 and later, on Linux) spawns with vfork, and this launcher costs
 * the function ~0.3 ms, as it would any program.
 *
 * usage: launch <cgroup.procs file, or -> <nice> <program> [args...] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: launch <cgroup.procs|-> <nice> <program> [args...]\n");
        return 127;
    }
    if (setpriority(PRIO_PROCESS, 0, atoi(argv[2])) != 0) {
        perror("launch: setpriority");
        return 127;
    }
    if (strcmp(argv[1], "-") != 0) {
        int fd = open(argv[1], O_WRONLY);
        /* "0": the writer itself, in cgroup v1 and v2 */
        if (fd < 0 || write(fd, "0", 1) != 1) {
            perror("launch: joining the cgroup");
            return 127;
        }
        close(fd);
    }
    execvp(argv[3], argv + 3);
    perror("launch: exec");
    return 127;
}
