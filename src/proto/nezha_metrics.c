/*
 * nezha_metrics: State -> struct nezha_sample, field by field. The wire's
 * field list is proto/nezha_v0.proto; a field added there is added here and
 * to the sample, nowhere else.
 */
#include "nezha_metrics.h"

#include <string.h>

#include "nezha_v0.pb-c.h"

void nezha_metrics_from_state(const struct Proto__State *st, struct nezha_sample *out)
{
    memset(out, 0, sizeof(*out));
    out->cpu = st->cpu;
    out->gpu = st->gpu;
    out->mem_used = st->mem_used;
    out->swap_used = st->swap_used;
    out->disk_used = st->disk_used;
    out->net_in_speed = st->net_in_speed;
    out->net_out_speed = st->net_out_speed;
    out->net_in_transfer = st->net_in_transfer;
    out->net_out_transfer = st->net_out_transfer;
    out->uptime = st->uptime;
    out->load1 = st->load1;
    out->load5 = st->load5;
    out->load15 = st->load15;
    out->tcp_conn_count = st->tcp_conn_count;
    out->udp_conn_count = st->udp_conn_count;
    out->process_count = st->process_count;
    size_t n =
        st->n_temperatures < NEZHA_SAMPLE_TEMPS_MAX ? st->n_temperatures : NEZHA_SAMPLE_TEMPS_MAX;
    for (size_t i = 0; i < n; i++) {
        const Proto__StateSensorTemperature *t = st->temperatures[i];
        out->temps[i].name = t->name ? t->name : "";
        out->temps[i].celsius = t->temperature;
    }
    out->n_temps = n;
}
