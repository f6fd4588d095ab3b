// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the help shows ${NAME} references.
/**
 * The part of `outlast init --help` after the options: the keys of `--origin` and `--dns` per
 * type, and examples. Text only, so that main.ts can show it without loading the command.
 */
export const INIT_HELP = `
On a terminal, init asks for whatever the flags leave out (defaults in [brackets]). Without one
(scripts, CI) every answer comes from flags, and init fails listing the missing ones. It never
overwrites a file. Secrets are neither asked for nor written: the file refers to environment
variables (\${PREFIX_...}), which init lists at the end with the commands to run next.

--origin TYPE:LOCATION[,KEY=VALUE...]   once per origin, the preferred one first. For every type:
    url=URL            its public URL, which the health checks probe (required)
    id=ID              a short name (default: the type, then TYPE-2, ...)
    cname=HOST         what the name points to while this origin is chosen, or ip=ADDRESS
                       (repeatable, IPv4 or IPv6); default: the host of url=
    prefix=PREFIX      a key prefix inside the store
  fs:FOLDER            a folder, served by a web server or \`outlast serve --dir FOLDER\`
  s3:BUCKET            region=REGION (required), endpoint=URL (an S3-compatible store),
                       path-style[=no] (default yes with endpoint=), profile=NAME,
                       env=PREFIX: credentials from PREFIX_ACCESS_KEY_ID and PREFIX_SECRET_ACCESS_KEY
                       (the default with endpoint=, PREFIX from the id; else the AWS chain)
  swift:CONTAINER      auth=rackspace|keystone|keystone-app|tempauth (required), auth-url=URL
                       (required except for rackspace), region=REGION (in the service catalog),
                       env=PREFIX (default: from the id), e.g. OS reads OS_USERNAME, OS_PASSWORD
                       and OS_PROJECT_NAME as an openrc file sets them

--dns TYPE[,KEY=VALUE...]   the DNS host; repeatable (each gets every change), or none (no failover)
  route53              zone=ZONE or hosted-zone-id=ID, profile=NAME (default: the AWS chain)
  cloudflare           zone=ZONE or zone-id=ID, env=PREFIX (PREFIX_API_TOKEN; default CLOUDFLARE)
  dnsmadeeasy          domain=DOMAIN, env=PREFIX (PREFIX_API_KEY, PREFIX_SECRET_KEY; default DME)
  powerdns             url=URL of the API (required), server-id=ID (default localhost), zone=ZONE,
                       env=PREFIX (PREFIX_API_KEY; default PDNS)
  rfc2136              server=HOST[:PORT] (required), zone=ZONE, tsig=KEYNAME|none (default outlast),
                       algorithm=hmac-sha256|hmac-sha512, env=PREFIX (PREFIX_SECRET; default TSIG)
  embedded             ns=HOST (repeatable, required: the nameservers that run it), zone=ZONE,
                       listen=HOST:PORT (repeatable, default 0.0.0.0:53)
  ZONE and DOMAIN default to the name without its first label (www.example.com: example.com).

Examples:
  outlast init                                 ask, on a terminal
  outlast init --site public --name www.example.com \\
    --origin s3:www.example.com,region=eu-west-1,url=http://www.example.com.s3-website-eu-west-1.amazonaws.com \\
    --origin swift:www,auth=rackspace,region=DFW,url=https://www.example.com.cdn.example.net \\
    --dns route53
  outlast init -c site.yaml --site dist --name www.example.com \\
    --origin fs:/srv/www-a,url=http://192.0.2.10/ --origin fs:/srv/www-b,url=http://192.0.2.11/ \\
    --dns embedded,ns=ns1.example.com,ns=ns2.example.com
  outlast init --site public --name www.example.com \\
    --origin s3:site,region=auto,endpoint=https://ACCOUNT.r2.cloudflarestorage.com,url=https://site.example.net \\
    --dns cloudflare,env=CF`;
