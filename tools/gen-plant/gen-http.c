/* gen-http.c - HTTP/1.1 (TCP 80): the engineering station browses a PLC's web server.
 *
 * What it is for: every 30 s eng-ws01 opens a connection to the first Modbus PLC's
 * built-in web server (Schneider "Schneider-WEB") and fetches the same two pages
 * over one keep-alive connection: GET with Host, User-Agent, Accept; 200 OK with
 * Server, Content-Type, Content-Length and a small HTML body. Then the browser
 * closes.
 *
 * What it must never do: send a Content-Length that disagrees with the body, or
 * request a page outside the fixed list.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

struct http_state {
    struct gp_tcp tcp;
    struct gp_host *cli, *srv;
};

static const char *const HTTP_PAGES[] = {"/html/english/home/home.htm", "/html/english/diag/rack.htm"};

static int http_step(struct gp_sim *s, struct gp_task *t)
{
    static char req[600], body[800], resp[1400];
    struct http_state *h = t->state;
    gp_time now = t->next;
    char ip[20];
    int rc;
    t->next = now + jitter(s, GP_SEC(30), 5);
    ip_to_str(h->srv->ip, ip, sizeof ip);
    tcp_init(s, &h->tcp, h->cli, h->srv, 80);
    if ((rc = tcp_connect(s, &h->tcp, now, &now)) != GP_OK)
        return rc;
    for (int i = 0; i < 2; i++) {
        int n = snprintf(req, sizeof req,
                         "GET %s HTTP/1.1\r\nHost: %s\r\n"
                         "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0\r\n"
                         "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
                         "Accept-Encoding: gzip, deflate\r\nAccept-Language: en-US,en;q=0.9\r\n"
                         "Connection: keep-alive\r\n\r\n",
                         HTTP_PAGES[i], ip);
        now += GP_MS(1) + rng_below(&s->rng, 3000);
        if ((rc = tcp_data(s, &h->tcp, false, now, (const uint8_t *)req, (size_t)n)) != GP_OK)
            return rc;
        int bn = snprintf(body, sizeof body,
                          "<html><head><title>%s - %s</title></head><body>"
                          "<h1>%s</h1><table><tr><td>Module</td><td>%s</td></tr>"
                          "<tr><td>Firmware</td><td>%s</td></tr><tr><td>Status</td><td>%s</td></tr>"
                          "</table></body></html>",
                          h->srv->name, i ? "Rack Viewer" : "Home", h->srv->name, h->srv->model,
                          h->srv->firmware, i ? "RUN" : "OK");
        int rn = snprintf(resp, sizeof resp,
                          "HTTP/1.1 200 OK\r\nServer: Schneider-WEB/V2.1.4\r\n"
                          "Content-Type: text/html\r\nContent-Length: %d\r\n"
                          "Cache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n%s",
                          bn, body);
        now += rtt_us(s, 4000, 20000);
        if ((rc = tcp_data(s, &h->tcp, true, now, (const uint8_t *)resp, (size_t)rn)) != GP_OK)
            return rc;
        now += GP_MS(30) + rng_below(&s->rng, 300000);
    }
    return tcp_close(s, &h->tcp, false, now + GP_SEC(2), &now);
}

int gen_http_setup(struct gp_sim *s)
{
    struct gp_plant *p = s->plant;
    struct gp_host *plc = NULL;
    for (int i = 0; i < p->nhosts && !plc; i++)
        if (p->hosts[i].role == ROLE_PLC_MODBUS)
            plc = &p->hosts[i];
    if (!plc)
        return GP_OK;
    struct http_state *h = gp_alloc(s, sizeof *h);
    if (!h)
        return GP_ERR_NOMEM;
    h->cli = p->eng;
    h->srv = plc;
    gp_time first = s->t0 + GP_SEC(2) + rng_below(&s->rng, (uint32_t)GP_SEC(10));
    return task_add(s, first, http_step, h) ? GP_OK : GP_ERR_NOMEM;
}
