/* vCPU threads: one host thread per hart, started by vm_run and joined when the VM ends; the
 * calling thread waits for the end and turns SIGINT/SIGTERM/SIGHUP into a clean stop. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "vmm/vm.h"

void vm_request_exit(struct vm *vm, int status)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->status == VM_STATUS_RUNNING)
		vm->status = status;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->nharts; i++)
		hart_request_exit(&vm->harts[i], HART_EXIT_STOP);
}

static void *vcpu_thread(void *arg)
{
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
	pthread_sigmask(SIG_BLOCK, &sigs, &old);

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

	for (;;) {
		pthread_mutex_lock(&vm->lock);
		int st = vm->status;
		pthread_mutex_unlock(&vm->lock);
		if (st != VM_STATUS_RUNNING)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000};
		int sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig > 0)
			vm_request_exit(vm, 128 + sig);
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(vm->threads[i], NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return vm->status;
}
