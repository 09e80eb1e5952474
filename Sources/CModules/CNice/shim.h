#ifndef JINGLEKIT_CNICE_SHIM_H
#define JINGLEKIT_CNICE_SHIM_H
#include <agent.h>
#include <glib-object.h>

/* g_object_set is variadic; one typed setter per property kind. */
static inline void jk_g_object_set_bool(gpointer object, const char *name, gboolean value) {
    g_object_set(object, name, value, NULL);
}
static inline void jk_g_object_set_uint(gpointer object, const char *name, guint value) {
    g_object_set(object, name, value, NULL);
}
static inline void jk_g_object_set_string(gpointer object, const char *name, const char *value) {
    g_object_set(object, name, value, NULL);
}
/* g_signal_connect and G_CALLBACK are macros. */
static inline gulong jk_g_signal_connect(gpointer instance, const char *signal, void (*handler)(void), gpointer data) {
    return g_signal_connect_data(instance, signal, G_CALLBACK(handler), data, NULL, (GConnectFlags)0);
}
#endif
