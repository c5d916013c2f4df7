import { BadRequestException, Logger, type Type } from '@nestjs/common';
import { LazyModuleLoader, ModulesContainer } from '@nestjs/core';
import { callModuleBootstrapHook, callModuleInitHook } from '@nestjs/core/hooks/index.js';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  FASTIFY_ROUTE_CONFIG_METADATA,
  FASTIFY_ROUTE_CONSTRAINTS_METADATA,
  FASTIFY_ROUTE_SCHEMA_METADATA,
} from '@nestjs/platform-fastify/constants.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import FindMyWay from 'find-my-way';

/**
 * A table's module loaded on the first request to its routes rather than at boot (projects of
 * many tables: every module at boot is seconds and hundreds of MB). `app.module.ts` lists them
 * (`LAZY_MODULES`); nest-generator.toml's `[project] lazy_modules` decides which projects do.
 */
export interface LazyModule {
  /** Where the module's routes are (`orders`, `v1/orders`): every route below is its own. */
  readonly path: string;
  /** Imports the module's file (its one export is the module class). */
  readonly load: () => Promise<Record<string, unknown>>;
}

/** The methods the tables' controllers answer (OPTIONS stays with CORS). */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown;

interface Route {
  /** The route's pattern (`/orders/:id`): what the access log names. */
  readonly path: string;
  readonly handler: Handler;
  /** Its `@RouteConfig(...)`, which Fastify would have given the route. */
  readonly config: Record<string, unknown> | undefined;
}

type Found = FindMyWay.FindResult<FindMyWay.HTTPVersion.V1>;

/** What of Nest's application this needs beyond its public API (checked when made). */
interface NestInternals {
  routesResolver?: {
    registerRouters(routes: Map<unknown, unknown>, moduleKey: string, globalPrefix: string, modulePath: string, adapter: object): void;
    getModulePathMetadata(metatype: Type<unknown>): string | undefined;
  };
  config?: { getGlobalPrefix(): string };
  /** The modules whose shutdown hooks `close()` calls, remembered at init. */
  _moduleRefsForHooksByDistance?: unknown;
}

/** A module that failed to load answers with its error for this long before it is tried again. */
const RETRY_AFTER_MS = 5_000;

/** What each request to the catch-all matched, found before its body is read. */
const matches = new WeakMap<object, Found | null>();

/** The pattern of the route a request went to (`/orders/:id`), lazily loaded or not. */
export function routeOf(request: FastifyRequest): string | undefined {
  const found = matches.get(request);
  if (found !== undefined) return (found?.store as Route | null)?.path;
  return request.routeOptions.url;
}

/**
 * The route's config (`@RouteConfig(...)`), lazily loaded or not: body parsers read it (they run
 * before the handler, on the catch-all's own config otherwise).
 */
export function routeConfigOf(request: FastifyRequest): Record<string, unknown> | undefined {
  const found = matches.get(request);
  if (found !== undefined) return (found?.store as Route | null)?.config;
  return request.routeOptions?.config as unknown as Record<string, unknown> | undefined;
}

interface State {
  readonly module: LazyModule;
  loaded?: boolean;
  loading?: Promise<void>;
  /** The last failure, answered again until `retryAt`. */
  failed?: { error: unknown; retryAt: number };
}

/**
 * Serves the routes of `modules`: at boot one catch-all route (`/*`, below every other route)
 * is registered with Fastify; the first request to a module's path imports the module and lets
 * Nest build its controllers' handlers (with the app's guards, pipes, interceptors and filters,
 * exactly as at boot) into a router of the loaded modules' routes, where every request to them
 * then finds its handler (in the catch-all's `onRequest`, so body parsers see the route's
 * config). A request to no module's path gets the app's 404.
 */
export class LazyModules {
  private readonly log = new Logger('LazyModules');
  private readonly states: State[];
  /** By `path` (`orders`, `v1/orders`). */
  private readonly byPath = new Map<string, State>();
  private readonly router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
  /** The global prefix (`/api`), or ''. */
  private readonly prefix: string = '';

  /** `maxParamLength`: Fastify's (routerOptions), so a key too long is refused as there. */
  constructor(
    private readonly app: NestFastifyApplication,
    modules: readonly LazyModule[],
    maxParamLength: number,
  ) {
    // URLs the router cannot take answer as the app's Fastify answers them (frameworkErrors).
    this.router = FindMyWay({
      maxParamLength,
      onBadUrl: () => {
        throw new BadRequestException('the URL is not valid');
      },
      onMaxParamLength: () => {
        throw new BadRequestException(`a path segment is longer than ${maxParamLength} characters`);
      },
    });
    this.states = modules.map((module) => ({ module }));
    for (const state of this.states) this.byPath.set(state.module.path, state);
    if (modules.length === 0) return;
    const internals = app as unknown as NestInternals;
    if (typeof internals.routesResolver?.registerRouters !== 'function' || typeof internals.config?.getGlobalPrefix !== 'function') {
      throw new Error(
        'this version of @nestjs/core cannot register routes of lazily loaded modules; set lazy_modules = false under [project] in nest-generator.toml and regenerate',
      );
    }
    const prefix = internals.config.getGlobalPrefix().replace(/^\/+|\/+$/g, '');
    this.prefix = prefix ? `/${prefix}` : '';
    app
      .getHttpAdapter()
      .getInstance()
      .route({
        method: [...METHODS],
        url: `${this.prefix}/*`,
        config: { lazyModules: true },
        onRequest: (request, _reply, done) => {
          const found = this.find(request);
          if (found !== undefined) {
            matches.set(request, found);
            return done();
          }
          this.findLoading(request).then((later) => {
            matches.set(request, later);
            done();
          }, done);
        },
        handler: (request, reply) => this.dispatch(request, reply),
      });
  }

  get size(): number {
    return this.states.length;
  }

  /** Load every module (the OpenAPI document describes them all; `LAZY_MODULES=false` at boot). */
  async loadAll(): Promise<void> {
    for (const state of this.states) await this.load(state);
  }

  /** The route `request` goes to, null for none, undefined when its module must load first. */
  private find(request: FastifyRequest): Found | null | undefined {
    const found = this.router.find(request.method as Method, request.url);
    if (found) {
      // A URL the router refused (its handler throws the 400).
      if (found.store === null) (found.handler as () => never)();
      return found;
    }
    const state = this.owner((request.params as { '*'?: string })['*'] ?? '');
    return !state || state.loaded ? null : undefined;
  }

  private async findLoading(request: FastifyRequest): Promise<Found | null> {
    const state = this.owner((request.params as { '*'?: string })['*'] ?? '');
    if (state) await this.load(state);
    return this.find(request) ?? null;
  }

  /**
   * The module whose path `rest` (the path below the prefix, decoded by Fastify's router) is
   * below, if any; a module's path has a few segments.
   */
  private owner(rest: string): State | undefined {
    let end = -1;
    for (let segments = 0; segments < 4; segments++) {
      end = rest.indexOf('/', end + 1);
      const state = this.byPath.get(end < 0 ? rest : rest.slice(0, end));
      if (state || end < 0) return state;
    }
    return undefined;
  }

  private load(state: State): Promise<void> {
    if (state.loaded) return Promise.resolve();
    if (state.failed && Date.now() < state.failed.retryAt) return Promise.reject(state.failed.error);
    state.loading ??= this.build(state).then(
      () => {
        state.loaded = true;
        state.failed = undefined;
      },
      (error: unknown) => {
        // Answered again (and logged once) until RETRY_AFTER_MS have passed, then tried again.
        state.loading = undefined;
        state.failed = { error, retryAt: Date.now() + RETRY_AFTER_MS };
        this.log.error(`the module of /${state.module.path} could not be loaded: ${error instanceof Error ? error.stack : String(error)}`);
        throw error;
      },
    );
    return state.loading;
  }

  private async build(state: State): Promise<void> {
    const exports = await state.module.load();
    const modules = Object.values(exports).filter(
      (v): v is Type<unknown> => typeof v === 'function' && Reflect.hasOwnMetadata('controllers', v),
    );
    if (modules.length !== 1) throw new Error(`the file of /${state.module.path} must export exactly one module class`);
    const [metatype] = modules;
    await this.app.get(LazyModuleLoader).load(() => metatype);
    const module = [...this.app.get(ModulesContainer).values()].find((m) => m.metatype === metatype);
    if (!module) throw new Error(`${metatype.name} was loaded but Nest does not hold it`);
    const internals = this.app as unknown as Required<NestInternals>;
    const own = `${this.prefix}/${state.module.path}`;
    // Collected first, added to the router only when every route is known and allowed.
    const routes = new Map<string, Route & { method: Method }>();
    const on = (method: Method) => (path: string, handler: Handler) => {
      if (path !== own && !path.startsWith(`${own}/`)) {
        throw new Error(`${metatype.name} has a route ${method} ${path} outside ${own}: give it its own LazyModule in app.module.ts`);
      }
      for (const [key, what] of [
        [FASTIFY_ROUTE_SCHEMA_METADATA, '@RouteSchema'],
        [FASTIFY_ROUTE_CONSTRAINTS_METADATA, '@RouteConstraints'],
      ]) {
        if (Reflect.getMetadata(key, handler) !== undefined) {
          throw new Error(`${metatype.name}: ${method} ${path} has ${what}, which a lazily loaded module cannot honour`);
        }
      }
      routes.set(`${method} ${path}`, { method, path, handler, config: Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) });
    };
    const unsupported = (name: string) => () => {
      throw new Error(`${metatype.name} has a ${name} route, which a lazily loaded module cannot serve`);
    };
    const adapter = {
      get: on('GET'),
      head: on('HEAD'),
      post: on('POST'),
      put: on('PUT'),
      patch: on('PATCH'),
      delete: on('DELETE'),
      options: unsupported('OPTIONS'),
      all: unsupported('ALL'),
      search: unsupported('SEARCH'),
      use: unsupported('middleware'),
    };
    internals.routesResolver.registerRouters(
      module.controllers,
      module.token,
      this.prefix,
      internals.routesResolver.getModulePathMetadata(metatype) ?? '',
      adapter,
    );
    // Nest's lifecycle hooks, as at boot: init now; destroy and shutdown with the app's own.
    await callModuleInitHook(module);
    await callModuleBootstrapHook(module);
    internals._moduleRefsForHooksByDistance = undefined;
    for (const route of routes.values()) {
      this.router.on(route.method, route.path, () => undefined, route);
      // As Fastify does for routes (exposeHeadRoutes): a GET answers HEAD too.
      if (route.method === 'GET' && !routes.has(`HEAD ${route.path}`)) this.router.on('HEAD', route.path, () => undefined, route);
    }
  }

  private dispatch(request: FastifyRequest, reply: FastifyReply): unknown {
    const found = matches.get(request);
    if (!found) return reply.callNotFound();
    const params = found.params;
    // As Nest asks of Fastify's router: an empty path parameter matches no route.
    for (const name in params) if (params[name] === '') return reply.callNotFound();
    (request as { params: unknown }).params = params;
    return (found.store as Route).handler(request, reply);
  }
}
