/*
 * nezha_metrics: one Nezha v0 State report read into a plain C struct, the
 * metric sample that the dashboard's readers (history, alerts, /metrics)
 * consume without knowing the wire. No protobuf type appears in the sample.
 *
 * Units are the wire's: percentages as reported (cpu, gpu), bytes for memory,
 * swap, disk and the transfer counters, bytes per second for the speeds,
 * seconds for uptime. The transfer counters are the agent's raw counters
 * since its boot (no dashboard baseline applied).
 *
 * Pure, no allocation, no global state; any thread.
 */
#ifndef LOTUS_PROTO_NEZHA_METRICS_H
#define LOTUS_PROTO_NEZHA_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct Proto__State;

/* Most temperature sensors a sample carries; a State with more keeps the first ones. */
#define NEZHA_SAMPLE_TEMPS_MAX 16

struct nezha_sample_temp {
    const char *name; /* borrowed from the State; never NULL ("" when unnamed) */
    double celsius;
};

struct nezha_sample {
    double cpu; /* percent of all CPUs */
    double gpu; /* percent */
    uint64_t mem_used;
    uint64_t swap_used;
    uint64_t disk_used;
    uint64_t net_in_speed;     /* bytes/s */
    uint64_t net_out_speed;    /* bytes/s */
    uint64_t net_in_transfer;  /* bytes since the agent's boot */
    uint64_t net_out_transfer; /* bytes since the agent's boot */
    uint64_t uptime;           /* seconds */
    double load1;
    double load5;
    double load15;
    uint64_t tcp_conn_count;
    uint64_t udp_conn_count;
    uint64_t process_count;
    size_t n_temps; /* entries used in temps, <= NEZHA_SAMPLE_TEMPS_MAX */
    struct nezha_sample_temp temps[NEZHA_SAMPLE_TEMPS_MAX];
};

/*
 * Fills *out (fully overwritten) from st (borrowed). The temperature names
 * point into st: out is valid while st is. st must be a decoded State (any
 * field may be zero; a NULL temperature name reads as ""). Pure.
 */
void nezha_metrics_from_state(const struct Proto__State *st, struct nezha_sample *out);

#endif
