/* Settings the agent writes into the object's read-only data at load (src/dataplane/loader.ts): the
 * verifier sees them as constants. The defaults here are for test runs of the bare object. */
#ifndef KBP_CONFIG_H
#define KBP_CONFIG_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>

/* Source address for a pod reaching itself through its service. */
const volatile __be32 hairpin_addr = bpf_htonl(0xa9fe2a01); /* 169.254.42.1 */

/* This node's address: the source of outside flows NATed to remote backends (0 means the frontend's
 * own address, right for node ports). */
const volatile __be32 node_addr = 0;

/* The node's own network namespace: sockets of other namespaces (pods, whose cgroups descend from the
 * node's) are left to the tc path. 0 means every namespace. */
const volatile __u64 host_netns_cookie = 0;

/* Conntrack lifetimes in ns after a flow's last packet, named after kube-proxy's flags: an established
 * TCP flow (--conntrack-tcp-timeout-established, 24h), a TCP direction that has sent its FIN while the
 * other still may send (--conntrack-tcp-timeout-close-wait, 1h), UDP before and after a reply
 * (--conntrack-udp-timeout 30s, --conntrack-udp-timeout-stream 120s: the kernel's defaults, which
 * kube-proxy leaves alone unless told). */
const volatile __u64 ct_tcp_established_ns = 24ULL * 3600 * 1000000000ULL;
const volatile __u64 ct_tcp_close_wait_ns = 3600ULL * 1000000000ULL;
const volatile __u64 ct_udp_ns = 30ULL * 1000000000ULL;
const volatile __u64 ct_udp_stream_ns = 120ULL * 1000000000ULL;

#endif
