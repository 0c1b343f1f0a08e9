/* vCPU threads: one host thread per hart, started by vm_run and joined when the VM ends; the
 * calling thread waits for the end and turns SIGINT/SIGTERM/SIGHUP into a clean stop. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "host/seccomp.h"
#include "vmm/vm.h"

void vm_request_exit(struct vm *vm, int status)
{
	pthread_mutex_lock(&vm->lock);
	bool first = vm->status == VM_STATUS_RUNNING;
	if (first)
		vm->status = status;
	pthread_cond_broadcast(&vm->cond);
	bool waiting = vm->waiter_set;
	pthread_mutex_unlock(&vm->lock);
	/* Wake vm_run's signal wait at once rather than at its next poll. */
	if (first && waiting)
		pthread_kill(vm->waiter, SIGUSR1);
	for (unsigned i = 0; i < vm->nharts; i++)
		hart_request_exit(&vm->harts[i], HART_EXIT_STOP);
}

static void *vcpu_thread(void *arg)
{
	seccomp_enter(SECCOMP_VCPU);
	hart_run(arg);
	return NULL;
}

int vm_run(struct vm *vm)
{
	sigset_t sigs, old;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);  /* vm_request_exit's wake-up */
	sigaddset(&sigs, SIGWINCH); /* the terminal's new size, for a virtio console */
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	pthread_mutex_lock(&vm->lock);
	vm->waiter = pthread_self();
	vm->waiter_set = true;
	pthread_mutex_unlock(&vm->lock);

	vm->threads = calloc(vm->nharts, sizeof(*vm->threads));
	if (!vm->threads) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return VM_STATUS_ERROR;
	}
	unsigned started = 0;
	for (; started < vm->nharts; started++)
		if (pthread_create(&vm->threads[started], NULL, vcpu_thread, &vm->harts[started]))
			break;
	if (started < vm->nharts)
		vm_request_exit(vm, VM_STATUS_ERROR);
	/* Every thread of the VM exists now: this one narrows to waiting and tearing down. */
	seccomp_enter(SECCOMP_MAIN);

	for (;;) {
		pthread_mutex_lock(&vm->lock);
		int st = vm->status;
		pthread_mutex_unlock(&vm->lock);
		if (st != VM_STATUS_RUNNING)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000};
		int sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGWINCH)
			vm_console_resized(vm);
		else if (sig > 0 && sig != SIGUSR1)
			vm_request_exit(vm, 128 + sig);
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(vm->threads[i], NULL);
	pthread_mutex_lock(&vm->lock);
	vm->waiter_set = false;
	pthread_mutex_unlock(&vm->lock);
	/* Drop a wake-up that arrived after the last wait. */
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&usr1, NULL, &zero) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return vm->status;
}
