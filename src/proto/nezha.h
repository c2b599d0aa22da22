/*
 * nezha: the names of Nezha v0's wire that are not in the .proto file, in one
 * place for both sides (docs/protocol.md, "Task types" and "Methods").
 *
 * Task.type numbers, the method paths of proto.NezhaService and the gRPC
 * metadata key that carries the agent's secret. Header-only constants; no code
 * outside this header spells a task number or a method path.
 */
#ifndef LOTUS_PROTO_NEZHA_H
#define LOTUS_PROTO_NEZHA_H

/* Task.type. Task.id is the monitor id for 1-3, the cron id for 4, else 0. */
enum nezha_task_type {
    NEZHA_TASK_HTTP_GET = 1,
    NEZHA_TASK_ICMP_PING = 2,
    NEZHA_TASK_TCP_PING = 3,
    NEZHA_TASK_COMMAND = 4,
    NEZHA_TASK_TERMINAL_LEGACY = 5, /* unused by v0 dashboards */
    NEZHA_TASK_UPGRADE = 6,
    NEZHA_TASK_KEEPALIVE = 7, /* the dashboard sends it every 60 s */
    NEZHA_TASK_TERMINAL = 8,  /* web terminal over IOStream */
    NEZHA_TASK_NAT = 9,
    NEZHA_TASK_REPORT_HOST_INFO = 10, /* the dashboard sends it 15 s after start */
    NEZHA_TASK_FILE_MANAGER = 11,
    /* Lotus additions, sent only to Lotus agents (user-agent "lotus-agent/..."). */
    LOTUS_TASK_HTTP_CHECK = 101, /* URL + status range / keyword lines */
    LOTUS_TASK_DNS = 102,        /* "<name> [A|AAAA|ANY [expected address]]" */
};

#define NEZHA_METHOD_REPORT_STATE "/proto.NezhaService/ReportSystemState"
#define NEZHA_METHOD_REPORT_INFO  "/proto.NezhaService/ReportSystemInfo"
#define NEZHA_METHOD_REPORT_TASK  "/proto.NezhaService/ReportTask"
#define NEZHA_METHOD_REQUEST_TASK "/proto.NezhaService/RequestTask"
#define NEZHA_METHOD_IOSTREAM     "/proto.NezhaService/IOStream"
#define NEZHA_METHOD_LOOKUP_GEOIP "/proto.NezhaService/LookupGeoIP"

/* gRPC metadata key of the agent secret (lower case, as HTTP/2 sends it). */
#define NEZHA_MD_CLIENT_SECRET "client_secret"

#endif
