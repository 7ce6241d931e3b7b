import { isIP } from 'node:net'
import type { IncomingHttpHeaders } from 'node:http'
import { BacktrackError } from '@backtrack/core'

/** `Sec-Fetch-Site` values a browser sends for a request the user or the endpoint's own page made. */
const OWN_SITES = new Set(['same-origin', 'none'])

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The host name of a `Host` header (`[::1]:4566` → `::1`, `localhost:4566` → `localhost`). */
function hostName(host: string): string {
  return host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '')
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host
  } catch {
    return undefined
  }
}

/**
 * Refuses a request a browser sent on behalf of a web page other than the endpoint's own (CSRF: a page anywhere
 * can make the browser POST a form, or GET an image, to a loopback port). Browsers mark such requests with headers
 * no page can set (`Origin`, `Sec-Fetch-Site`); AWS SDKs, the AWS CLI, boto3 and curl send neither, so they are not
 * affected. A browser request is answered only when it comes from the endpoint itself (same origin, or a URL typed
 * into the address bar) under an IP address or `localhost`: a page under another name that resolves to this address
 * (DNS rebinding) is same-origin for the browser, but not for us.
 */
export function refuseForeignBrowserRequest(headers: IncomingHttpHeaders): void {
  const origin = header(headers, 'origin')
  const site = header(headers, 'sec-fetch-site')
  if (origin === undefined && site === undefined) return
  const host = header(headers, 'host') ?? ''
  const name = hostName(host)
  const fromItself =
    (site === undefined || OWN_SITES.has(site.toLowerCase())) &&
    (origin === undefined || originHost(origin) === host.toLowerCase()) &&
    (isIP(name) !== 0 || name.toLowerCase() === 'localhost')
  if (fromItself) return
  const from =
    origin !== undefined ? `the web page at ${origin}` : `a web page on another site (Sec-Fetch-Site: ${site})`
  throw new BacktrackError(
    'AccessDenied',
    `Refused a request from ${from}, sent by a browser to ${host || 'this endpoint'}: this endpoint can rewind and ` +
      'delete clusters, so it answers no other web page (cross-site request forgery). Call it with an AWS SDK, ' +
      'the AWS CLI, boto3 or `backtrack`, which send no Origin; a page of your own must be served by this endpoint ' +
      'under 127.0.0.1 or localhost, or make the call from its server instead of the browser.',
  )
}
