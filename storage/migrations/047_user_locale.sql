-- Each user's chosen language for pages and messages; NULL follows the site's default (site.yaml
-- province.locale).
ALTER TABLE app_user ADD COLUMN locale text CHECK (locale IN ('zh_CN', 'en'));
