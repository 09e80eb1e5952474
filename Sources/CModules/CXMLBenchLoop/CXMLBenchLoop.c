#include "CXMLBenchLoop.h"
#include <string.h>
#include <libxml/parser.h>
#include <libxml/SAX2.h>

/* What the callbacks count: open elements (the stream root is depth 1 here) and finished stanzas. */
struct counter {
    long depth;
    long stanzas;
    long text_bytes;
};

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
                     const xmlChar **attributes) {
    (void)localname; (void)prefix; (void)uri; (void)nb_namespaces; (void)namespaces;
    (void)nb_attributes; (void)nb_defaulted; (void)attributes;
    ((struct counter *)ctx)->depth++;
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri) {
    (void)localname; (void)prefix; (void)uri;
    struct counter *c = ctx;
    c->depth--;
    if (c->depth == 1) c->stanzas++;
}

static void on_characters(void *ctx, const xmlChar *ch, int len) {
    (void)ch;
    ((struct counter *)ctx)->text_bytes += len;
}

static void on_error(void *ctx, xmlErrorPtr error) {
    (void)ctx; (void)error;
}

long jk_c_sax_count_stanzas(const char *bytes, size_t length, size_t chunk) {
    if (bytes == NULL || chunk == 0 || chunk > (1u << 30)) return -1;
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_characters;
    sax.ignorableWhitespace = on_characters;
    sax.cdataBlock = on_characters;
    sax.serror = on_error;
    struct counter counter = {0, 0, 0};
    xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, &counter, NULL, 0, NULL);
    if (ctxt == NULL) return -1;
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOENT | XML_PARSE_IGNORE_ENC);
    long result = 0;
    for (size_t offset = 0; offset < length; offset += chunk) {
        size_t size = length - offset < chunk ? length - offset : chunk;
        if (xmlParseChunk(ctxt, bytes + offset, (int)size, 0) != 0) {
            result = -1;
            break;
        }
    }
    if (result == 0) result = counter.stanzas;
    xmlFreeParserCtxt(ctxt);
    return result;
}
