// SPDX-License-Identifier: GPL-2.0
/* An empty tc program: what BPF_PROG_TEST_RUN costs around any program, subtracted by the benchmark. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int kbp_baseline(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
