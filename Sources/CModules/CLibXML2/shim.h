#ifndef JINGLEKIT_CLIBXML2_SHIM_H
#define JINGLEKIT_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian builds libxml2 with ICU; Foundation and ICU clash over UErrorCode. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>
#include <libxml/dict.h>

/* XML_SAX2_MAGIC is a macro Swift imports, but keep one name for it. */
static inline unsigned int jk_xml_sax2_magic(void) { return XML_SAX2_MAGIC; }

/* Byte offset of the parser's cursor from the start of the input pushed into `ctxt`
   (what xmlByteConsumed reports for UTF-8 input, without its encoder bookkeeping). */
static inline long jk_xml_input_offset(xmlParserCtxtPtr ctxt) {
    if (ctxt == NULL || ctxt->input == NULL || ctxt->input->cur == NULL || ctxt->input->base == NULL) return -1;
    return (long)ctxt->input->consumed + (long)(ctxt->input->cur - ctxt->input->base);
}

/* Whether `str` lives in the parser's name dictionary (so its address is stable until the context is freed). */
static inline int jk_xml_dict_owns(xmlParserCtxtPtr ctxt, const xmlChar *str) {
    if (ctxt == NULL || ctxt->dict == NULL || str == NULL) return 0;
    return xmlDictOwns(ctxt->dict, str) == 1;
}
#endif
