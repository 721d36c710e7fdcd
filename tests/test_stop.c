/* The signal handlers of stop.h, in a child process: a first SIGTERM is announced on rank 0 and
 * noted, not acted on; after stop_quiet (the command's work done, only MPI_Finalize left) it is
 * noted silently. The CI failure this guards against: mpirun ended rank 0, still finalizing,
 * after rank 1 had exited with an error, and rank 0 printed "SIGTERM: finishing this step, then
 * saving last.h5" after the run's one-line error. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "stop.h"

/* Runs, in a child whose stderr goes to a pipe: install the handlers (announcing), call
 * stop_quiet when asked, raise SIGTERM, exit 3 + the pending signal. Returns the child's exit
 * status; *said holds what it wrote to stderr. */
static int child_raises_sigterm(bool quiet, char *said, size_t cap)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], STDERR_FILENO);
        stop_install(true, RUN_LAST_FILE);
        if (quiet)
            stop_quiet();
        raise(SIGTERM);
        _exit(stop_signal_pending() == SIGTERM ? 3 : 4);
    }
    close(fd[1]);
    size_t used = 0;
    ssize_t got;
    while (used + 1 < cap && (got = read(fd[0], said + used, cap - 1 - used)) > 0)
        used += (size_t)got;
    said[used] = '\0';
    close(fd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_announced(void **state)
{
    (void)state;
    char said[512];
    assert_int_equal(child_raises_sigterm(false, said, sizeof said), 3);
    assert_non_null(strstr(said, "SIGTERM: finishing this step, then saving last.h5"));
}

static void test_quiet_after_the_work(void **state)
{
    (void)state;
    char said[512];
    assert_int_equal(child_raises_sigterm(true, said, sizeof said), 3);
    assert_string_equal(said, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announced),
        cmocka_unit_test(test_quiet_after_the_work),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
