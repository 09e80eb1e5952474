#ifndef JINGLEKIT_CNICE_SHIM_H
#define JINGLEKIT_CNICE_SHIM_H
/*
 * Self-contained declarations of the part of libnice 0.1.x and GLib 2.x that the Transport
 * target uses. libnice's own headers need GLib's include directories, which only pkg-config
 * provides, and pkg-config for "nice" also emits -pthread, a flag SwiftPM refuses (and warns
 * about on every build of the package). Declaring the stable C ABI here lets the module build
 * from the modulemap's link lines alone. Layouts follow <nice/address.h>, <nice/candidate.h>,
 * <nice/agent.h>, <glib/gslist.h> and <gobject/gsignal.h> of libnice 0.1.21 / GLib 2.74+;
 * Tests/TransportTests/ICEAgentTests exercise every declaration below.
 */
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef int gboolean;
typedef int gint;
typedef unsigned int guint;
typedef uint32_t guint32;
typedef unsigned long gulong;
typedef char gchar;
typedef void *gpointer;

/* GLib main loop, lists, memory, objects and signals. */
typedef struct _GMainContext GMainContext;
typedef struct _GMainLoop GMainLoop;
typedef gboolean (*GSourceFunc)(gpointer user_data);
typedef struct _GSList GSList;
struct _GSList { gpointer data; GSList *next; };
typedef void (*GCallback)(void);
typedef void (*GClosureNotify)(gpointer data, gpointer closure);
typedef enum { JK_G_CONNECT_DEFAULT = 0 } GConnectFlags;

GMainContext *g_main_context_new(void);
void g_main_context_unref(GMainContext *context);
void g_main_context_push_thread_default(GMainContext *context);
void g_main_context_pop_thread_default(GMainContext *context);
void g_main_context_invoke(GMainContext *context, GSourceFunc function, gpointer data);
gboolean g_main_context_is_owner(GMainContext *context);
GMainLoop *g_main_loop_new(GMainContext *context, gboolean is_running);
void g_main_loop_run(GMainLoop *loop);
void g_main_loop_quit(GMainLoop *loop);
void g_main_loop_unref(GMainLoop *loop);
void g_free(gpointer mem);
GSList *g_slist_append(GSList *list, gpointer data);
void g_slist_free(GSList *list);
void g_object_unref(gpointer object);
void g_object_set(gpointer object, const gchar *first_property_name, ...);
gulong g_signal_connect_data(gpointer instance, const gchar *detailed_signal, GCallback c_handler,
                             gpointer data, GClosureNotify destroy_data, GConnectFlags connect_flags);

/* libnice: addresses and candidates. */
typedef struct _NiceAddress NiceAddress;
struct _NiceAddress {
    union {
        struct sockaddr addr;
        struct sockaddr_in ip4;
        struct sockaddr_in6 ip6;
    } s;
};

typedef enum {
    NICE_CANDIDATE_TYPE_HOST,
    NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE,
    NICE_CANDIDATE_TYPE_PEER_REFLEXIVE,
    NICE_CANDIDATE_TYPE_RELAYED,
} NiceCandidateType;

typedef enum {
    NICE_CANDIDATE_TRANSPORT_UDP,
    NICE_CANDIDATE_TRANSPORT_TCP_ACTIVE,
    NICE_CANDIDATE_TRANSPORT_TCP_PASSIVE,
    NICE_CANDIDATE_TRANSPORT_TCP_SO,
} NiceCandidateTransport;

typedef enum {
    NICE_RELAY_TYPE_TURN_UDP,
    NICE_RELAY_TYPE_TURN_TCP,
    NICE_RELAY_TYPE_TURN_TLS,
} NiceRelayType;

typedef struct _NiceCandidate NiceCandidate;
struct _NiceCandidate {
    NiceCandidateType type;
    NiceCandidateTransport transport;
    NiceAddress addr;
    NiceAddress base_addr;
    guint32 priority;
    guint stream_id;
    guint component_id;
    gchar foundation[32 + 1];
    gchar *username;
    gchar *password;
};

void nice_address_init(NiceAddress *addr);
gboolean nice_address_set_from_string(NiceAddress *addr, const gchar *str);
void nice_address_set_port(NiceAddress *addr, guint port);
guint nice_address_get_port(const NiceAddress *addr);
void nice_address_to_string(const NiceAddress *addr, gchar *dst);
gboolean nice_address_is_valid(const NiceAddress *addr);
NiceCandidate *nice_candidate_new(NiceCandidateType type);
void nice_candidate_free(NiceCandidate *candidate);

/* libnice: the agent. */
typedef struct _NiceAgent NiceAgent;

typedef enum {
    NICE_COMPONENT_STATE_DISCONNECTED,
    NICE_COMPONENT_STATE_GATHERING,
    NICE_COMPONENT_STATE_CONNECTING,
    NICE_COMPONENT_STATE_CONNECTED,
    NICE_COMPONENT_STATE_READY,
    NICE_COMPONENT_STATE_FAILED,
    NICE_COMPONENT_STATE_LAST
} NiceComponentState;

typedef enum {
    NICE_COMPATIBILITY_RFC5245 = 0,
} NiceCompatibility;

typedef enum {
    NICE_AGENT_OPTION_NONE = 0,
    NICE_AGENT_OPTION_REGULAR_NOMINATION = 1 << 0,
    NICE_AGENT_OPTION_RELIABLE = 1 << 1,
    NICE_AGENT_OPTION_LITE_MODE = 1 << 2,
    NICE_AGENT_OPTION_ICE_TRICKLE = 1 << 3,
    NICE_AGENT_OPTION_SUPPORT_RENOMINATION = 1 << 4,
    NICE_AGENT_OPTION_CONSENT_FRESHNESS = 1 << 5,
    NICE_AGENT_OPTION_BYTESTREAM_TCP = 1 << 6,
} NiceAgentOption;

typedef void (*NiceAgentRecvFunc)(NiceAgent *agent, guint stream_id, guint component_id, guint len,
                                  gchar *buf, gpointer user_data);

NiceAgent *nice_agent_new_full(GMainContext *ctx, NiceCompatibility compat, NiceAgentOption flags);
gboolean nice_agent_add_local_address(NiceAgent *agent, NiceAddress *addr);
guint nice_agent_add_stream(NiceAgent *agent, guint n_components);
void nice_agent_remove_stream(NiceAgent *agent, guint stream_id);
gboolean nice_agent_set_relay_info(NiceAgent *agent, guint stream_id, guint component_id, const gchar *server_ip,
                                   guint server_port, const gchar *username, const gchar *password, NiceRelayType type);
gboolean nice_agent_gather_candidates(NiceAgent *agent, guint stream_id);
gboolean nice_agent_set_remote_credentials(NiceAgent *agent, guint stream_id, const gchar *ufrag, const gchar *pwd);
gboolean nice_agent_get_local_credentials(NiceAgent *agent, guint stream_id, gchar **ufrag, gchar **pwd);
int nice_agent_set_remote_candidates(NiceAgent *agent, guint stream_id, guint component_id, const GSList *candidates);
gint nice_agent_send(NiceAgent *agent, guint stream_id, guint component_id, guint len, const gchar *buf);
gboolean nice_agent_attach_recv(NiceAgent *agent, guint stream_id, guint component_id, GMainContext *ctx,
                                NiceAgentRecvFunc func, gpointer data);
gboolean nice_agent_restart_stream(NiceAgent *agent, guint stream_id);
gboolean nice_agent_peer_candidate_gathering_done(NiceAgent *agent, guint stream_id);
typedef struct _GObject GObject;
typedef struct _GAsyncResult GAsyncResult;
typedef void (*GAsyncReadyCallback)(GObject *source_object, GAsyncResult *res, gpointer data);
void nice_agent_close_async(NiceAgent *agent, GAsyncReadyCallback callback, gpointer callback_data);

/* g_object_set is variadic; one typed setter per property kind. */
static inline void jk_g_object_set_bool(gpointer object, const char *name, gboolean value) {
    g_object_set(object, name, value, (void *)0);
}
static inline void jk_g_object_set_uint(gpointer object, const char *name, guint value) {
    g_object_set(object, name, value, (void *)0);
}
static inline void jk_g_object_set_string(gpointer object, const char *name, const char *value) {
    g_object_set(object, name, value, (void *)0);
}
/* g_signal_connect and G_CALLBACK are macros. */
static inline gulong jk_g_signal_connect(gpointer instance, const char *signal, void (*handler)(void), gpointer data) {
    return g_signal_connect_data(instance, signal, (GCallback)handler, data, (GClosureNotify)0, JK_G_CONNECT_DEFAULT);
}
#endif
